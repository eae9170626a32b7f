//! `lathe analyze`: measure audio files.

use crate::audio_io::read_audio;
use crate::cli::AnalyzeArgs;
use crate::exit::{CliError, ResultExt};
use crate::report::{Measurement, table};

pub fn run(args: &AnalyzeArgs) -> Result<(), CliError> {
    let mut measurements = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let audio = read_audio(path).user_fault()?;
        measurements.push(Measurement::of(path.display().to_string(), &audio));
    }
    if args.json {
        let json = serde_json::to_string_pretty(&measurements).runtime_fault()?;
        println!("{json}");
    } else {
        let columns: Vec<&Measurement> = measurements.iter().collect();
        print!("{}", table(&columns));
    }
    Ok(())
}
