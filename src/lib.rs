//! The `lathe` command line and its host side: audio file I/O, the built-in demo mix,
//! atomic output files, progress and reports. The engine does the processing; this crate
//! gets audio to it and back to disk.

pub mod album;
pub mod atomic_file;
pub mod audio_io;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod delivery;
pub mod demo;
pub mod exit;
pub mod matching;
pub mod plot;
pub mod progress;
pub mod report;
