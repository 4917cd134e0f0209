//! The terminal side: set the terminal up, restore it on every way out
//! (return, error, panic), and run the loops that feed keys and install
//! events to the state machines, drawing once per turn.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use ratatui::Terminal;
use tappaas_exec::{CommandFailure, Event};

use crate::keys::{Crossterm, Keys};
use crate::screens::progress::{Progress, ProgressOutcome};
use crate::theme::{self, Charset};
use crate::wizard::{Outcome, Wizard, WizardOutcome};

/// Puts the terminal back as it was: cooked mode, main screen, cursor.
/// Safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let mut w = screen_writer();
    let _ = execute!(w, LeaveAlternateScreen, cursor::Show);
}

/// The stream a full screen is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The wizard's: stdout stays free for the result (`--dry-run > plan.txt`).
    Stderr,
    /// First boot's: under its unit stdout is the console (tty1) while
    /// stderr goes to the journal and the serial console.
    Stdout,
}

static ON_STDOUT: AtomicBool = AtomicBool::new(false);

fn screen_writer() -> Box<dyn Write + Send> {
    if ON_STDOUT.load(Ordering::Relaxed) {
        Box::new(io::stdout())
    } else {
        Box::new(io::stderr())
    }
}

/// A panic would otherwise leave the console in raw mode on the
/// alternate screen, with the message invisible.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// Owns the terminal while a screen runs; restores it when dropped,
/// whichever way the caller leaves.
pub struct Tui {
    pub terminal: Terminal<CrosstermBackend<Box<dyn Write + Send>>>,
}

struct RawGuard;

impl Drop for RawGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

impl Tui {
    /// On stderr (the wizard).
    pub fn new() -> io::Result<Self> {
        Self::on(Screen::Stderr)
    }

    pub fn on(screen: Screen) -> io::Result<Self> {
        ON_STDOUT.store(screen == Screen::Stdout, Ordering::Relaxed);
        install_panic_hook();
        enable_raw_mode()?;
        // From here every early return restores the terminal.
        let guard = RawGuard;
        let mut w = screen_writer();
        execute!(w, EnterAlternateScreen, cursor::Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(screen_writer()))?;
        std::mem::forget(guard);
        Ok(Tui { terminal })
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Runs the wizard until it ends.
pub fn run_wizard(tui: &mut Tui, mut wizard: Wizard) -> io::Result<WizardOutcome> {
    let mut keys = Keys::new(Crossterm);
    loop {
        tui.terminal.draw(|f| f.render_widget(&wizard, f.area()))?;
        if let Some(key) = keys.next(None)? {
            if let Outcome::Finished(o) = wizard.handle_key(key) {
                return Ok(o);
            }
            if wizard.has_pending() {
                // Show "connecting ..." while the request runs.
                tui.terminal.draw(|f| f.render_widget(&wizard, f.area()))?;
                if let Outcome::Finished(o) = wizard.run_pending() {
                    return Ok(o);
                }
            }
        }
    }
}

/// What the progress loop waits on.
enum Input {
    Key(KeyEvent),
    Install(Event),
    /// The engine's sender went away without Finished or Failed.
    EngineGone,
}

/// Shows the install's progress from the engine's events until the user
/// chooses what to do after a failure, or reads the end.
pub fn run_progress(
    tui: &mut Tui,
    progress: &mut Progress,
    events: Receiver<Event>,
    charset: Charset,
) -> io::Result<ProgressOutcome> {
    let (key_tx, key_rx) = mpsc::channel::<KeyEvent>();
    let stop = Arc::new(AtomicBool::new(false));
    let keys = {
        let stop = stop.clone();
        thread::spawn(move || {
            // Polls, so that it notices `stop` and leaves the keyboard to
            // whoever comes next (a shell, the wizard again).
            let mut keys = Keys::new(Crossterm);
            while !stop.load(Ordering::Relaxed) {
                match keys.next(Some(Duration::from_millis(100))) {
                    Ok(Some(k)) => {
                        if key_tx.send(k).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(_) => return,
                }
            }
        })
    };
    let result = drive_progress(&mut tui.terminal, progress, events, key_rx, charset);
    stop.store(true, Ordering::Relaxed);
    let _ = keys.join();
    result
}

/// The progress loop on any backend, fed by two channels (the engine's
/// events, the keys), so tests can script both.
pub fn drive_progress<B: Backend>(
    terminal: &mut Terminal<B>,
    progress: &mut Progress,
    events: Receiver<Event>,
    keys: Receiver<KeyEvent>,
    charset: Charset,
) -> io::Result<ProgressOutcome> {
    let (tx, rx) = mpsc::channel::<Input>();
    let key_tx = tx.clone();
    // Both sources into one queue: the loop waits on one thing.
    thread::spawn(move || {
        for k in keys {
            if key_tx.send(Input::Key(k)).is_err() {
                return;
            }
        }
    });
    thread::spawn(move || {
        for e in events {
            if tx.send(Input::Install(e)).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::EngineGone);
    });
    progress_loop(terminal, progress, &rx, charset)
}

fn progress_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    progress: &mut Progress,
    rx: &Receiver<Input>,
    charset: Charset,
) -> io::Result<ProgressOutcome> {
    let mut ended = false;
    loop {
        terminal.draw(|f| {
            let area = f.area();
            let [top, body] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
            let buf = f.buffer_mut();
            Paragraph::new(Line::styled(progress.screen_title(), theme::heading()))
                .render(top, buf);
            let block = Block::default()
                .borders(Borders::ALL)
                .border_set(charset.border());
            let inner = block.inner(body);
            block.render(body, buf);
            progress.render(inner, buf, charset);
            charset.sanitise(buf);
        })?;
        // One turn: wait for something (or a second, for the clock), then
        // take everything else that is already there, then draw once.
        let first = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(i) => Some(i),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("input channel closed"))
            }
        };
        let now = Instant::now();
        progress.tick(now);
        for input in first.into_iter().chain(rx.try_iter()) {
            match input {
                Input::Install(e) => {
                    let finished = matches!(e, Event::Finished { .. });
                    if finished || matches!(e, Event::Failed { .. }) {
                        ended = true;
                    }
                    progress.on_event(e, now);
                    if finished && !progress.waits_for_confirmation() {
                        return Ok(ProgressOutcome::Done);
                    }
                }
                // First boot's caller reads how the run ended (it may end
                // without steps: no Proxmox) and prints the summary itself.
                Input::EngineGone if !progress.waits_for_confirmation() => {
                    if progress.failure.is_none() {
                        return Ok(ProgressOutcome::Done);
                    }
                }
                Input::EngineGone if !ended => {
                    ended = true;
                    let index = progress.current.map(|(i, _)| i).unwrap_or(0);
                    let id = progress
                        .steps
                        .get(index)
                        .map(|s| s.id.clone())
                        .unwrap_or_default();
                    progress.on_event(
                        Event::Failed {
                            index,
                            id,
                            failure: CommandFailure {
                                what: "the install engine".into(),
                                status: None,
                                message: "it stopped without reporting an end".into(),
                                output_tail: Vec::new(),
                            },
                        },
                        now,
                    );
                }
                Input::EngineGone => {}
                Input::Key(k) => {
                    if let Some(o) = progress.handle_key(k) {
                        return Ok(o);
                    }
                }
            }
        }
    }
}

/// The whole wizard on this terminal: `$TERM` picks the characters, and
/// the terminal is restored before this returns, whatever happens.
/// `refresh_leases` reads the live machine's DHCP leases again (None for
/// a recorded machine).
pub fn run_interactive(
    machine: tappaas_hardware::MachineProfile,
    env: tappaas_plan::Environment,
    dry_run: bool,
    refresh_leases: Option<crate::wizard::LeaseRefresh>,
) -> io::Result<WizardOutcome> {
    let mut ctx = crate::Context::new(machine, env);
    ctx.dry_run = dry_run;
    ctx.charset = Charset::from_term(std::env::var("TERM").ok().as_deref());
    let mut wizard = Wizard::new(ctx, Box::new(crate::TlsPeer::default()));
    if let Some(refresh) = refresh_leases {
        wizard = wizard.with_lease_refresh(refresh);
    }
    let mut tui = Tui::new()?;
    let outcome = run_wizard(&mut tui, wizard);
    drop(tui);
    outcome
}
