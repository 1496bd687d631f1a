//! Runs the emulator on its own for demos:
//! `cargo run -p custody-metrc-emulator -- --seed tests/metrc-emulator/seed`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use custody_metrc_emulator::{Emulator, Seed};

#[derive(Parser)]
#[command(about = "An emulator of the state's seed-to-sale API (Metrc v2) on plain HTTP")]
struct Args {
    /// A directory of seed JSON files (see README.md).
    #[arg(long, env = "METRC_EMU_SEED")]
    seed: Option<PathBuf>,
    /// Where to listen; keep it on loopback.
    #[arg(long, env = "METRC_EMU_LISTEN", default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// A vendor key to accept (repeatable), besides those in the seed's vendorkeys.json.
    #[arg(long = "vendor-key", env = "METRC_EMU_VENDOR_KEY", value_delimiter = ',')]
    vendor_keys: Vec<String>,
    /// A user key given every seeded licence (repeatable), besides facilities.json's UserKeys.
    #[arg(long = "user-key", env = "METRC_EMU_USER_KEY", value_delimiter = ',')]
    user_keys: Vec<String>,
    /// The largest pageSize a list accepts.
    #[arg(long, env = "METRC_EMU_MAX_PAGE_SIZE", default_value_t = 20)]
    max_page_size: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut seed = match &args.seed {
        Some(dir) => Seed::from_dir(dir)?,
        None => Seed::default(),
    };
    for k in args.vendor_keys {
        seed = seed.vendor_key(k);
    }
    for k in args.user_keys {
        seed = seed.user_key_for_all(k);
    }
    seed = seed.max_page_size(args.max_page_size);
    if seed.vendor_keys.is_empty() {
        return Err("no vendor key: pass --vendor-key or METRC_EMU_VENDOR_KEY, or seed vendorkeys.json".into());
    }
    let licences: Vec<String> = seed.facilities.iter().map(|f| f.license.clone()).collect();
    let emu = Emulator::start_on(seed, args.listen).await?;
    // Keys are secrets even here: the log names licences, never keys.
    tracing::info!(url = %emu.base_url(), licences = ?licences, "Metrc emulator listening");
    tokio::signal::ctrl_c().await?;
    drop(emu);
    Ok(())
}
