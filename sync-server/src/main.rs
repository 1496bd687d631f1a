//! `custody-server`: run the sync server, or administer its data folder.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use custody_core::ids::{DeviceId, LicenseNumber};
use custody_core::roles::Role;
use custody_core::settings::SettingsChange;
use custody_core::state_json::Tz;
use custody_server::{Config, Db, DbError, serve};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "custody-server", version, about = "The Custody sync server and its admin commands")]
struct Cli {
    /// Folder holding custody-server.db (created if missing).
    #[arg(long, global = true, env = "CUSTODY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, global = true, env = "CUSTODY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Minutes an event's time stamp may be ahead of this server's clock (or before its phone
    /// enrolled); further, it is rejected with the reason.
    #[arg(long, global = true, env = "CUSTODY_CLOCK_ALLOWANCE_MINUTES", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    clock_allowance_minutes: u32,
    /// Serve TLS with this certificate chain (PEM). Without it the server speaks plain HTTP and
    /// must sit behind a TLS-terminating reverse proxy.
    #[arg(long, global = true, env = "CUSTODY_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM), readable by the server's user only.
    #[arg(long, global = true, env = "CUSTODY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connections served at once; more wait until one closes.
    #[arg(long, global = true, env = "CUSTODY_MAX_CONNECTIONS", default_value_t = Config::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Requests handled at once; more wait up to 2 s, then get 503 (the phones retry).
    #[arg(long, global = true, env = "CUSTODY_MAX_REQUESTS", default_value_t = Config::DEFAULT_MAX_CONCURRENT_REQUESTS)]
    max_requests: usize,
    /// Largest sync request, in MiB.
    #[arg(long, global = true, env = "CUSTODY_SYNC_LIMIT_MIB", default_value_t = Config::DEFAULT_SYNC_BODY_LIMIT / (1024 * 1024))]
    sync_limit_mib: usize,
    /// Seconds a request's headers may take to arrive.
    #[arg(long, global = true, env = "CUSTODY_HEADER_TIMEOUT", default_value_t = Config::DEFAULT_HEADER_TIMEOUT.as_secs())]
    header_timeout: u64,
    /// Seconds a request's body may take to arrive.
    #[arg(long, global = true, env = "CUSTODY_BODY_TIMEOUT", default_value_t = Config::DEFAULT_BODY_TIMEOUT.as_secs())]
    body_timeout: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, global = true, env = "CUSTODY_IDLE_TIMEOUT", default_value_t = Config::DEFAULT_IDLE_TIMEOUT.as_secs())]
    idle_timeout: u64,
    /// Minutes between pulls of each connected facility from the state system (0: never pull).
    #[arg(long, global = true, env = "CUSTODY_STATE_PULL_MINUTES", default_value_t = 5)]
    state_pull_minutes: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync server (the default).
    Serve,
    /// Manage facilities.
    Facility {
        #[command(subcommand)]
        command: FacilityCommand,
    },
    /// Manage the people who sign in on devices.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Issue a one-time code for enrolling a device.
    EnrolmentCode {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long, default_value_t = 24)]
        ttl_hours: u32,
    },
    /// Manage enrolled devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Manage the dispensaries a facility may ship to.
    Customer {
        #[command(subcommand)]
        command: CustomerCommand,
    },
    /// Manage the unused package tags a facility holds from the state (for splits).
    Tags {
        #[command(subcommand)]
        command: TagsCommand,
    },
    /// Connect a facility to the state's seed-to-sale system (Metrc), or see how its writes stand.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// A facility's settings its phones get at sync: scales, potency tolerance, item categories,
    /// locations, adjustment reasons. Each change is checked, logged with who made it
    /// (--operator or CUSTODY_OPERATOR, else the login name), and reaches the phones at their
    /// next sync.
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// Show who accessed patient data, and when.
    PatientLog {
        #[arg(long)]
        facility: LicenseNumber,
    },
    /// Show a medical order's patient details at the console (the access is logged under the
    /// operator's name).
    PatientShow {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        order: uuid::Uuid,
        /// Who is looking, for the access log.
        #[arg(long)]
        operator: String,
    },
}

/// Who makes a settings change, for the audit log.
#[derive(Debug, Clone, clap::Args)]
struct Operator {
    /// Who is making the change (logged). Defaults to CUSTODY_OPERATOR, else the login name.
    #[arg(long, env = "CUSTODY_OPERATOR")]
    operator: Option<String>,
}

impl Operator {
    fn name(&self) -> String {
        self.operator.clone().or_else(|| std::env::var("USER").ok()).or_else(|| std::env::var("LOGNAME").ok()).unwrap_or_default()
    }
}

#[derive(Debug, Subcommand)]
enum SettingsCommand {
    /// Print a facility's settings and the log of changes.
    Show {
        #[arg(long)]
        facility: LicenseNumber,
    },
    /// The scales in the receiving bay: a scale past its calibration due date cannot be chosen
    /// for weighing on the phones.
    Scale {
        #[command(subcommand)]
        command: ScaleCommand,
    },
    /// How far a certificate's THC may differ from the manifest's, in percentage points (0 to
    /// 100; e.g. 2 accepts 21% against 23%).
    PotencyTolerance {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(value_parser = decimal_arg, allow_negative_numbers = true)]
        points: rust_decimal::Decimal,
        #[command(flatten)]
        operator: Operator,
    },
    /// The product category of items, for counts scoped by category (the state's item list,
    /// when the facility is connected and it was pulled, is used instead).
    Category {
        #[command(subcommand)]
        command: CategoryCommand,
    },
    /// The facility's locations, for the phones' move and putaway pick lists (the state's, when
    /// pulled, are used instead).
    Location {
        #[command(subcommand)]
        command: LocationCommand,
    },
    /// The adjustment reasons (the state's list, when pulled, is used instead; with neither, the
    /// built-in list).
    Reason {
        #[command(subcommand)]
        command: ReasonCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ScaleCommand {
    /// Add a scale, or give a scale a new calibration due date.
    Add {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        name: String,
        /// The last day the scale may weigh before it must be calibrated (YYYY-MM-DD).
        #[arg(long, value_parser = date_arg)]
        calibration_due: chrono::NaiveDate,
        #[command(flatten)]
        operator: Operator,
    },
    Remove {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        operator: Operator,
    },
}

#[derive(Debug, Subcommand)]
enum CategoryCommand {
    /// Put an item in a category.
    Set {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        item: String,
        #[arg(long)]
        category: String,
        #[command(flatten)]
        operator: Operator,
    },
    Remove {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        item: String,
        #[command(flatten)]
        operator: Operator,
    },
}

#[derive(Debug, Subcommand)]
enum LocationCommand {
    Add {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        operator: Operator,
    },
    Remove {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        operator: Operator,
    },
}

#[derive(Debug, Subcommand)]
enum ReasonCommand {
    /// Add a reason, or change whether it requires a note.
    Add {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        name: String,
        /// An adjustment with this reason must say what happened.
        #[arg(long)]
        requires_note: bool,
        #[command(flatten)]
        operator: Operator,
    },
    Remove {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        operator: Operator,
    },
}

fn date_arg(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date; write it as YYYY-MM-DD, e.g. 2027-03-01"))
}

fn decimal_arg(text: &str) -> Result<rust_decimal::Decimal, String> {
    text.trim().parse().map_err(|_| format!("{text:?} is not a number; write percentage points, e.g. 2 or 2.5"))
}

impl SettingsCommand {
    /// The facility, the change and who makes it; `None` for `show`.
    fn change(self) -> Option<(LicenseNumber, SettingsChange, Operator)> {
        use SettingsChange as C;
        Some(match self {
            SettingsCommand::Show { .. } => return None,
            SettingsCommand::Scale { command: ScaleCommand::Add { facility, name, calibration_due, operator } } => {
                (facility, C::AddScale { name, calibration_due }, operator)
            }
            SettingsCommand::Scale { command: ScaleCommand::Remove { facility, name, operator } } => {
                (facility, C::RemoveScale { name }, operator)
            }
            SettingsCommand::PotencyTolerance { facility, points, operator } => (facility, C::PotencyTolerance(points), operator),
            SettingsCommand::Category { command: CategoryCommand::Set { facility, item, category, operator } } => {
                (facility, C::SetCategory { item, category }, operator)
            }
            SettingsCommand::Category { command: CategoryCommand::Remove { facility, item, operator } } => {
                (facility, C::RemoveCategory { item }, operator)
            }
            SettingsCommand::Location { command: LocationCommand::Add { facility, name, operator } } => {
                (facility, C::AddLocation(name), operator)
            }
            SettingsCommand::Location { command: LocationCommand::Remove { facility, name, operator } } => {
                (facility, C::RemoveLocation(name), operator)
            }
            SettingsCommand::Reason { command: ReasonCommand::Add { facility, name, requires_note, operator } } => {
                (facility, C::AddReason { name, requires_note }, operator)
            }
            SettingsCommand::Reason { command: ReasonCommand::Remove { facility, name, operator } } => {
                (facility, C::RemoveReason { name }, operator)
            }
        })
    }
}

/// A facility's settings as the operator reads them.
fn print_settings(db: &Db, facility: &LicenseNumber) -> Result<(), DbError> {
    let s = db.settings(facility)?;
    let today = chrono::Utc::now().date_naive();
    println!("settings of {facility} (revision {})", s.revision);
    println!("potency tolerance: {} percentage points", s.potency_tolerance);
    if s.scales.is_empty() {
        println!("scales: none (weights can only be typed by hand)");
    }
    for scale in &s.scales {
        let state = if scale.usable_on(today) { "" } else { "  PAST DUE: cannot be used for weighing" };
        println!("scale: {}  calibration due {}{state}", shown(&scale.name), scale.calibration_due);
    }
    for (item, category) in &s.item_categories {
        println!("category: {}  {}", shown(item), shown(category));
    }
    for location in &s.locations {
        println!("location: {}", shown(location.as_str()));
    }
    if s.adjustment_reasons.is_empty() {
        println!("adjustment reasons: the built-in list (until the state's is pulled or one is added)");
    }
    for r in &s.adjustment_reasons {
        println!("reason: {}{}", shown(&r.name), if r.requires_note { "  (requires a note)" } else { "" });
    }
    for line in db.settings_audit(facility)? {
        println!("changed {}  revision {}  by {}: {}", shown(&line.at), line.revision, shown(&line.operator), shown(&line.change));
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum CustomerCommand {
    /// Add (or update) a customer by its licence number.
    Add {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        licence: LicenseNumber,
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: String,
    },
    /// List a facility's customers.
    List {
        #[arg(long)]
        facility: LicenseNumber,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Connect (or reconnect with new keys). The keys are read from CUSTODY_STATE_VENDOR_KEY and
    /// CUSTODY_STATE_USER_KEY, never from the command line (which others can see), and stored
    /// sealed under the server's data key.
    Connect {
        #[arg(long)]
        facility: LicenseNumber,
        /// The state's two-letter code, e.g. ca.
        #[arg(long)]
        state: String,
        /// The state system's API address, e.g. https://api-ca.metrc.com.
        #[arg(long)]
        base_url: String,
        /// The day the user key expires (YYYY-MM-DD); a warning shows from 30 days before.
        #[arg(long)]
        user_key_expires: Option<chrono::NaiveDate>,
    },
    /// Forget the facility's keys and stop sending; writes keep queuing until it connects again.
    Disconnect {
        #[arg(long)]
        facility: LicenseNumber,
    },
    /// The connection, the writes by status, and the failed ones with the state's message.
    Status {
        #[arg(long)]
        facility: LicenseNumber,
        /// Print the status as JSON (what `GET /v1/state/status` answers).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TagsCommand {
    /// Add tags: one or more, or a run of consecutive tags from `--first` with `--count`.
    Add {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        first: custody_core::ids::PackageTag,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// List the tags not used yet.
    Unused {
        #[arg(long)]
        facility: LicenseNumber,
    },
}

#[derive(Debug, Subcommand)]
enum FacilityCommand {
    /// Register a facility by its state licence number.
    Create {
        #[arg(long)]
        license: LicenseNumber,
        #[arg(long)]
        name: String,
        /// The facility's time zone, an IANA name such as America/Los_Angeles: the state system
        /// writes local times without an offset, and phones read them in this zone.
        #[arg(long, value_parser = time_zone_arg)]
        time_zone: Tz,
    },
    /// Change a facility's time zone (phones receive it at their next sync).
    SetTimeZone {
        #[arg(long)]
        license: LicenseNumber,
        #[arg(long, value_parser = time_zone_arg)]
        time_zone: Tz,
    },
}

fn time_zone_arg(name: &str) -> Result<Tz, String> {
    custody_core::state_json::time_zone(name).map_err(|e| e.problem)
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a person to a facility's roster.
    Add {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        name: String,
        /// floor_staff, driver, manager, compliance or admin.
        #[arg(long)]
        role: Role,
        /// The badge barcode they scan to sign in.
        #[arg(long)]
        badge: String,
        /// 4 to 12 digits. Prefer the environment variable: arguments show in process lists.
        #[arg(long, env = "CUSTODY_PIN", hide_env_values = true)]
        pin: String,
    },
    /// List a facility's people: name, badge, role, active, and any lock on their badge.
    List {
        #[arg(long)]
        facility: LicenseNumber,
    },
    /// Deactivate a person: the server rejects their new events and phones sign them out at
    /// their next sync. They stay on the roster, since past events name them.
    Deactivate {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        badge: String,
    },
    /// Give a person a new PIN, read from the CUSTODY_PIN environment variable (never from the
    /// command line, which other users can see); also unlocks their badge.
    ResetPin {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        badge: String,
    },
    /// Clear a badge's wrong PINs and lock.
    Unlock {
        #[arg(long)]
        facility: LicenseNumber,
        #[arg(long)]
        badge: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List a facility's devices.
    List {
        #[arg(long)]
        facility: LicenseNumber,
    },
    /// Revoke a device; it must be enrolled again to sync.
    Revoke {
        #[arg(long)]
        device: DeviceId,
    },
    /// Clear a device's wrong badges and PINs and its lock.
    Unlock {
        #[arg(long)]
        device: DeviceId,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Start(#[from] custody_server::StartError),
}

/// `count` tags from `first`, counting up in its trailing digits (the state issues tags in runs).
fn consecutive_tags(first: &custody_core::ids::PackageTag, count: u32) -> Result<Vec<custody_core::ids::PackageTag>, DbError> {
    let text = first.as_str();
    let digits = text.chars().rev().take_while(|c| c.is_ascii_digit()).count();
    let (prefix, number) = text.split_at(text.len() - digits);
    let start: u64 =
        number.parse().map_err(|_| DbError::InvalidInput(format!("{first} does not end in digits; add tags one at a time")))?;
    (0..u64::from(count))
        .map(|i| {
            let next = format!("{prefix}{:0width$}", start + i, width = digits);
            if next.len() != text.len() {
                return Err(DbError::InvalidInput(format!("{count} tags from {first} run past the last digit")));
            }
            custody_core::ids::PackageTag::parse(&next).map_err(|e| DbError::InvalidInput(e.to_string()))
        })
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let db = Db::open(&cli.data_dir, custody_server::data_key::load(&cli.data_dir)?)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let mut config = Config::new(&cli.data_dir);
            config.listen = cli.listen;
            config.clock_allowance = std::time::Duration::from_secs(60 * u64::from(cli.clock_allowance_minutes));
            config.tls = cli.tls_cert.zip(cli.tls_key).map(|(cert, key)| custody_server::TlsFiles { cert, key });
            config.max_connections = cli.max_connections;
            config.max_concurrent_requests = cli.max_requests;
            config.sync_body_limit = cli.sync_limit_mib.saturating_mul(1024 * 1024);
            config.header_timeout = std::time::Duration::from_secs(cli.header_timeout);
            config.body_timeout = std::time::Duration::from_secs(cli.body_timeout);
            config.idle_timeout = std::time::Duration::from_secs(cli.idle_timeout);
            config.state.pull_interval = (cli.state_pull_minutes > 0).then(|| std::time::Duration::from_secs(60 * cli.state_pull_minutes));
            let runtime = tokio::runtime::Runtime::new().map_err(CliError::Serve)?;
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::bind(config.listen).await.map_err(|source| CliError::Bind { addr: config.listen, source })?;
                Ok::<_, CliError>(serve(listener, db, config, shutdown_signal()).await?)
            })?;
        }
        Command::Facility { command: FacilityCommand::Create { license, name, time_zone } } => {
            db.create_facility(&license, &name, time_zone)?;
            println!("facility {license} created ({time_zone})");
        }
        Command::Facility { command: FacilityCommand::SetTimeZone { license, time_zone } } => {
            db.set_facility_time_zone(&license, time_zone)?;
            println!("facility {license} is now in {time_zone}; phones learn it at their next sync");
        }
        Command::User { command: UserCommand::Add { facility, name, role, badge, pin } } => {
            let id = db.add_user(&facility, &name, role, &badge, &pin)?;
            println!("user {id} added to {facility} as {role}");
        }
        Command::User { command: UserCommand::List { facility } } => {
            let users = db.list_users(&facility)?;
            if users.is_empty() {
                println!("nobody at {facility} yet; add people with `custody-server user add`");
            }
            for u in users {
                let status = if u.active { "active" } else { "deactivated" };
                let lock = u
                    .locked_until
                    .map_or(String::new(), |t| format!("  locked until {}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
                println!("{:<30}  badge {:<16}  {:<12}  {status}{lock}", u.name, u.badge, u.role.as_str());
            }
        }
        Command::User { command: UserCommand::Deactivate { facility, badge } } => {
            let person = db.deactivate_badge(&facility, &badge)?;
            println!("{} (badge {}) deactivated at {facility}; phones sign them out at their next sync", person.name, badge.trim());
        }
        Command::User { command: UserCommand::ResetPin { facility, badge } } => {
            let pin = std::env::var("CUSTODY_PIN").map_err(|_| {
                DbError::InvalidInput(
                    "put the new PIN (4 to 12 digits) in the CUSTODY_PIN environment variable; it is not read from the command line, which others can see".into(),
                )
            })?;
            let person = db.reset_pin(&facility, &badge, &pin)?;
            println!(
                "new PIN set for {} (badge {}); their badge is unlocked and phones get it at their next sync",
                person.name,
                badge.trim()
            );
        }
        Command::User { command: UserCommand::Unlock { facility, badge } } => {
            db.unlock_badge(&facility, &badge)?;
            println!("badge {} at {facility} unlocked", badge.trim());
        }
        Command::EnrolmentCode { facility, ttl_hours } => {
            let code = db.issue_enrolment_code(&facility, None, chrono::Duration::hours(ttl_hours.into()))?;
            println!("enrolment code: {}", code.code);
            println!("expires at:     {}", code.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        Command::Customer { command: CustomerCommand::Add { facility, licence, name, address } } => {
            db.add_customer(&facility, &custody_core::outbound::Customer { licence: licence.clone(), name, address })?;
            println!("customer {licence} saved for {facility}");
        }
        Command::Customer { command: CustomerCommand::List { facility } } => {
            for c in db.customers(&facility)? {
                println!("{}  {}  {}", c.licence, c.name, c.address);
            }
        }
        Command::Tags { command: TagsCommand::Add { facility, first, count } } => {
            let tags = consecutive_tags(&first, count)?;
            let added = db.add_tags(&facility, &tags)?;
            println!("{added} new tags added to {facility} ({} already there)", tags.len() - added);
        }
        Command::Tags { command: TagsCommand::Unused { facility } } => {
            for t in db.unused_tags(&facility)? {
                println!("{t}");
            }
        }
        Command::State { command: StateCommand::Connect { facility, state, base_url, user_key_expires } } => {
            let key = |name: &str| {
                std::env::var(name).map(|k| k.trim().to_string()).map_err(|_| {
                    DbError::InvalidInput(format!(
                        "put the state's key in the {name} environment variable; keys are not read from the command line, which others can see"
                    ))
                })
            };
            let keys =
                custody_server::state::metrc::Keys { vendor: key("CUSTODY_STATE_VENDOR_KEY")?, user: key("CUSTODY_STATE_USER_KEY")? };
            let info = db.state_connect(&facility, custody_server::state::System::Metrc, &state, &base_url, &keys, user_key_expires)?;
            println!("{facility} connected to {} ({}) at {}", info.system, info.state, info.base_url);
            match info.user_key_expires {
                Some(day) => println!("user key expires on {day}"),
                None => println!("user key expiry not given; pass --user-key-expires YYYY-MM-DD to be warned 30 days before"),
            }
            if let Some(warning) = info.warning {
                println!("warning: {warning}");
            }
        }
        Command::State { command: StateCommand::Disconnect { facility } } => {
            db.state_disconnect(&facility)?;
            println!("{facility} disconnected from the state system; its keys are erased, and writes queue until it is connected again");
        }
        Command::State { command: StateCommand::Status { facility, json } } => {
            let status = db.state_status(&facility)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status).map_err(DbError::from)?);
                return Ok(());
            }
            match &status.connection {
                None => println!("{facility} is not connected to a state system (`custody-server state connect`); nothing is sent"),
                Some(c) if !c.connected => println!("{facility} is disconnected from {} at {}; writes are queuing", c.system, c.base_url),
                Some(c) => {
                    println!("{facility} connected to {} ({}) at {}", c.system, c.state, c.base_url);
                    if let Some(stopped) = &c.stopped {
                        println!("STOPPED: {}", shown(stopped));
                    }
                    if let Some(warning) = &c.warning {
                        println!("warning: {warning}");
                    }
                }
            }
            println!(
                "writes: {} queued, {} submitted (answer pending), {} confirmed, {} failed, {} dismissed, {} not sent (unapproved)",
                status.queued, status.submitted, status.confirmed, status.failed, status.dismissed, status.unapproved
            );
            for w in &status.failed_writes {
                println!(
                    "failed #{}  {}  {}  event {}  {}",
                    w.seq,
                    w.kind,
                    w.packages.join(" "),
                    shown(&w.source),
                    shown(w.message.as_deref().unwrap_or("-"))
                );
            }
            // What the pulls brought: the phones' inbox, and what the state sent that was refused.
            match db.last_pull_at(&facility)? {
                Some(at) => println!("last pull: {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
                None => println!("last pull: never"),
            }
            for (manifest, state) in db.inbox(&facility)? {
                println!("inbox: manifest {}  {}", shown(&manifest), shown(&state));
            }
            let faults = db.pull_faults(&facility)?;
            // The latest few: the full list grows with every damaged answer the state sends.
            for (endpoint, record, message) in faults.iter().rev().take(5).rev() {
                println!("refused from the state: {}  {}  {}", shown(endpoint), shown(record), shown(message));
            }
        }
        Command::Settings { command: SettingsCommand::Show { facility } } => print_settings(&db, &facility)?,
        Command::Settings { command } => {
            let (facility, change, operator) = command.change().expect("show is handled above");
            let settings = db.change_settings(&facility, &change, &operator.name())?;
            println!("{facility}: {change} (revision {}); phones get it at their next sync", settings.revision);
            if let custody_core::settings::SettingsChange::AddScale { calibration_due, .. } = &change
                && *calibration_due < chrono::Utc::now().date_naive()
            {
                println!("warning: that date is past: the scale cannot be used for weighing until it is calibrated");
            }
        }
        Command::PatientLog { facility } => {
            // One line per access, whatever a field holds: control and direction characters are
            // shown escaped, so no stored text can fake or hide a line.
            for line in db.patient_access_log(&facility)? {
                println!(
                    "{}  order {}  {} ({})  {}  device {}",
                    shown(&line.at),
                    shown(&line.order),
                    shown(&line.user_name),
                    shown(&line.user),
                    shown(&line.action),
                    shown(line.device.as_deref().unwrap_or("-"))
                );
            }
        }
        Command::PatientShow { facility, order, operator } => {
            if operator.trim().is_empty() {
                return Err(DbError::InvalidInput("say who is looking (--operator): every access is logged".into()).into());
            }
            custody_core::text::check(custody_core::text::name("operator's name (--operator)"), operator.trim())
                .map_err(|e| DbError::InvalidInput(e.to_string()))?;
            match db.open_patient(&facility, order, operator.trim())? {
                Some(p) => println!("name: {}\ncard: {}\naddress: {}\nphone: {}", p.name, p.card_number, p.address, p.phone),
                None => println!("order {order} at {facility} has no patient details"),
            }
        }
        Command::Device { command: DeviceCommand::List { facility } } => {
            let devices = db.list_devices(&facility)?;
            if devices.is_empty() {
                println!("no devices enrolled at {facility}");
            }
            for d in devices {
                let status = match d.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    None => "active".to_string(),
                };
                let seen = d.last_seen.map_or("never".to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                let lock = d
                    .locked_until
                    .map_or(String::new(), |t| format!("  locked until {}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
                println!("{}  {:<30}  {status:<35}  last seen {seen}{lock}", d.id, d.name);
            }
        }
        Command::Device { command: DeviceCommand::Unlock { device } } => {
            db.unlock_device(device)?;
            println!("device {device} unlocked");
        }
        Command::Device { command: DeviceCommand::Revoke { device } } => {
            db.revoke_device(device)?;
            println!("device {device} revoked");
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Text for one line of console output: control and direction-override characters escaped.
fn shown(text: &str) -> String {
    text.chars().map(|c| if custody_core::text::is_hidden(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("custody-server").chain(args.iter().copied()))
    }

    /// Runs one settings command against a data folder, as `main` does.
    fn run_in(dir: &std::path::Path, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["--data-dir", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        let cli = parse(&all).map_err(|e| e.to_string())?;
        run(cli).map_err(|e| e.to_string())
    }

    #[test]
    fn settings_commands_change_the_facility_and_bad_input_is_refused_with_a_sentence() {
        let dir = tempfile::tempdir().unwrap();
        run_in(
            dir.path(),
            &["facility", "create", "--license", "C11-0000001-LIC", "--name", "North", "--time-zone", "America/Los_Angeles"],
        )
        .unwrap();
        let l = "C11-0000001-LIC";
        let op = ["--operator", "ops-ana"];
        let ok = |args: &[&str]| run_in(dir.path(), &[args, &op].concat()).unwrap();
        ok(&["settings", "scale", "add", "--facility", l, "--name", "Vault scale 1", "--calibration-due", "2027-03-01"]);
        ok(&["settings", "potency-tolerance", "--facility", l, "2.5"]);
        ok(&["settings", "category", "set", "--facility", l, "--item", "Live Resin Cart 1g", "--category", "Vape"]);
        ok(&["settings", "location", "add", "--facility", l, "--name", "Vault A"]);
        ok(&["settings", "reason", "add", "--facility", l, "--name", "Damaged", "--requires-note"]);
        run_in(dir.path(), &["settings", "show", "--facility", l]).unwrap();

        // Bad input: refused with a sentence, nothing changed.
        let refused = |args: &[&str], says: &str| {
            let err = run_in(dir.path(), &[args, &op].concat()).unwrap_err();
            assert!(err.to_lowercase().contains(&says.to_lowercase()), "{args:?}: {err}");
        };
        refused(&["settings", "potency-tolerance", "--facility", l, "-1"], "negative");
        refused(&["settings", "potency-tolerance", "--facility", l, "150"], "potency tolerance");
        refused(&["settings", "potency-tolerance", "--facility", l, "a lot"], "is not a number");
        refused(&["settings", "scale", "add", "--facility", l, "--name", "  ", "--calibration-due", "2027-03-01"], "scale name");
        refused(&["settings", "scale", "add", "--facility", l, "--name", "B", "--calibration-due", "2027-02-30"], "is not a date");
        refused(&["settings", "scale", "add", "--facility", l, "--name", "B", "--calibration-due", "next week"], "YYYY-MM-DD");
        refused(&["settings", "scale", "remove", "--facility", l, "--name", "Nope"], "no scale named");
        refused(&["settings", "reason", "add", "--facility", l, "--name", ""], "adjustment reason");
        refused(&["settings", "location", "add", "--facility", "C11-0000009-LIC", "--name", "Vault B"], "no facility with licence");
        let err =
            run_in(dir.path(), &["settings", "location", "add", "--facility", l, "--name", "Vault B", "--operator", " "]).unwrap_err();
        assert!(err.contains("say who is making the change"), "{err}");

        let db = Db::open(dir.path(), custody_server::data_key::load(dir.path()).unwrap()).unwrap();
        let s = db.settings(&LicenseNumber::parse(l).unwrap()).unwrap();
        assert_eq!(s.revision, 5, "only the five good changes counted");
        assert_eq!(s.potency_tolerance, rust_decimal::Decimal::new(25, 1));
        assert_eq!(s.scales[0].calibration_due.to_string(), "2027-03-01");
        assert!(s.adjustment_reasons[0].requires_note);
        assert!(db.settings_audit(&LicenseNumber::parse(l).unwrap()).unwrap().iter().all(|a| a.operator == "ops-ana"));
    }
}
