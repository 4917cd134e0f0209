//! The console wizard.
