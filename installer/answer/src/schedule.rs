//! `backup.replication.schedule`: a systemd `OnCalendar=` expression. Only the forms
//! whose longest gap between two runs can be told are accepted (the
//! status calls a target overdue after twice that gap): the shorthands
//! (`hourly`, `daily`, ...) and `[WEEKDAYS] [*-*-*] HOURS:MINUTES[:SECONDS]`
//! with `*`, numbers, lists (`2,14`), ranges (`1..5`) and repetitions
//! (`0/15`, `*/2`) in the hour and minute fields.

const WEEK_MINUTES: usize = 7 * 24 * 60;
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The longest time in seconds between two runs of the OnCalendar
/// expression `spec`, or why it is not accepted.
pub fn schedule_period(spec: &str) -> Result<u64, String> {
    let expanded = match spec {
        "minutely" => "*:*",
        "hourly" => "*:00",
        "daily" => "00:00",
        "weekly" => "Mon 00:00",
        // A month is at most 31 days; these are counted by their longest.
        "monthly" => return Ok(31 * 86_400),
        "quarterly" => return Ok(92 * 86_400),
        "semiannually" => return Ok(184 * 86_400),
        "yearly" | "annually" => return Ok(366 * 86_400),
        other => other,
    };
    let parts: Vec<&str> = expanded.split(' ').collect();
    let (days, time) =
        match parts.as_slice() {
            [time] => (None, *time),
            [days, time] if !days.contains('-') => (Some(*days), *time),
            [date, time] if *date == "*-*-*" => (None, *time),
            [days, date, time] if *date == "*-*-*" => (Some(*days), *time),
            _ => return Err(
                "not a schedule this installer accepts: use hourly, daily, weekly, monthly, or \
                 [WEEKDAYS] [*-*-*] HH:MM, e.g. \"*-*-* *:00/30\" or \"Mon..Fri 02:00\""
                    .into(),
            ),
        };
    let weekdays = match days {
        None => vec![true; 7],
        Some(d) => weekdays(d)?,
    };
    let fields: Vec<&str> = time.split(':').collect();
    let (hours, minutes) = match fields.as_slice() {
        [h, m] => (values(h, 24, "an hour")?, values(m, 60, "a minute")?),
        [h, m, s] => {
            // Seconds are accepted as systemd does, and do not change the
            // gap between runs.
            values(s, 60, "a second")?;
            (values(h, 24, "an hour")?, values(m, 60, "a minute")?)
        }
        _ => {
            return Err(format!(
                "'{time}' is not a time: write HH:MM, e.g. 02:00 or *:00/15"
            ))
        }
    };
    let mut runs = Vec::new();
    for (day, _) in weekdays.iter().enumerate().filter(|(_, on)| **on) {
        for (hour, _) in hours.iter().enumerate().filter(|(_, on)| **on) {
            for (minute, _) in minutes.iter().enumerate().filter(|(_, on)| **on) {
                runs.push((day * 24 + hour) * 60 + minute);
            }
        }
    }
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return Err("it never runs".into());
    };
    let longest = runs
        .windows(2)
        .map(|w| w[1] - w[0])
        .chain([WEEK_MINUTES - last + first])
        .max()
        .unwrap_or(WEEK_MINUTES);
    Ok(u64::try_from(longest).unwrap_or(u64::MAX) * 60)
}

/// `Mon..Fri`, `Sat,Sun`: which days of the week.
fn weekdays(spec: &str) -> Result<Vec<bool>, String> {
    let day = |name: &str| {
        DAYS.iter()
            .position(|d| d.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!("'{name}' is not a weekday: use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
            })
    };
    let mut on = vec![false; 7];
    for item in spec.split(',') {
        match item.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                if a > b {
                    return Err(format!("'{item}': the range runs backwards"));
                }
                on[a..=b].iter_mut().for_each(|d| *d = true);
            }
            None => on[day(item)?] = true,
        }
    }
    Ok(on)
}

/// One time field (`*`, `5`, `2,14`, `1..5`, `0/15`, `*/2`) as the set of
/// values 0..`max` it matches.
fn values(spec: &str, max: usize, what: &str) -> Result<Vec<bool>, String> {
    let number = |s: &str| -> Result<usize, String> {
        match s.parse::<usize>() {
            Ok(n) if n < max && !s.is_empty() => Ok(n),
            _ => Err(format!("'{s}' is not {what} (0 to {})", max - 1)),
        }
    };
    let mut on = vec![false; max];
    for item in spec.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => match s.parse::<usize>() {
                Ok(step) if step > 0 => (r, step),
                _ => {
                    return Err(format!(
                        "'{item}': the repetition after / must be a positive number"
                    ))
                }
            },
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (0, max - 1),
            r => match r.split_once("..") {
                Some((a, b)) => (number(a)?, number(b)?),
                // `5/15` repeats from 5 to the end; a lone `5` is itself.
                None if step > 1 => (number(r)?, max - 1),
                None => (number(r)?, number(r)?),
            },
        };
        if from > to {
            return Err(format!("'{item}': the range runs backwards"));
        }
        (from..=to).step_by(step).for_each(|v| on[v] = true);
    }
    Ok(on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_between_runs_is_the_longest_one() {
        assert_eq!(schedule_period("hourly"), Ok(3600));
        assert_eq!(schedule_period("*-*-* *:00/15"), Ok(900));
        assert_eq!(schedule_period("*:0/15:00"), Ok(900));
        assert_eq!(schedule_period("02,14:30"), Ok(12 * 3600));
        assert_eq!(schedule_period("*-*-* 0/2:00"), Ok(2 * 3600));
        // Friday 02:00 to Monday 02:00.
        assert_eq!(schedule_period("Mon..Fri 02:00"), Ok(3 * 86_400));
        assert_eq!(schedule_period("weekly"), Ok(7 * 86_400));
        assert_eq!(schedule_period("1..5:00"), Ok(20 * 3600));
    }

    #[test]
    fn what_systemd_refuses_is_refused() {
        for bad in [
            "hourly ",
            "every hour",
            "*-*-* 25:00",
            "*:60",
            "*:0/0",
            "Mon..Fry 02:00",
            "5..1:00",
            "",
            // Parsed by systemd, but with no gap this installer can tell.
            "*-*-01 02:00",
        ] {
            assert!(schedule_period(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
