//! The settings' layers, their validation and the data dir's files.
use super::*;

#[test]
fn config_file_rejects_unknown_keys() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    fs::write(dir.path().join(CONFIG_FILE), "listen = \"127.0.0.1:9\"\n")?;
    assert_eq!(
        load_file(dir.path())?.listen.as_deref(),
        Some("127.0.0.1:9")
    );
    fs::write(dir.path().join(CONFIG_FILE), "lisen = \"x\"\n")?;
    let err = refusal(load_file(dir.path()));
    assert!(err.contains("lisen"), "{err}");
    Ok(())
}

#[test]
fn private_files_and_dirs() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sub = dir.path().join("data");
    ensure_private_dir(&sub)?;
    assert_eq!(fs::metadata(&sub)?.permissions().mode() & 0o777, 0o700);
    let file = sub.join("k");
    write_private(&file, b"secret\n")?;
    assert_eq!(fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
    assert_eq!(read_trimmed(&file)?.as_deref(), Some("secret"));
    assert_eq!(read_trimmed(&sub.join("none"))?, None);
    Ok(())
}

/// What `result`'s error says (empty if it is not one).
fn refusal<T>(result: Result<T, ConfigError>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn flags_beat_env_beat_file_beat_defaults() -> Result<(), ConfigError> {
    let file = Settings {
        listen: Some("127.0.0.1:1001".into()),
        log: Some("debug".into()),
        kdf_target_ms: Some(1),
        upstream_timeout_ms: Some(2),
        token_timeout_ms: Some(3),
        approval_timeout_ms: None,
        audit_days: Some(0),
        keep_alive: Some(true),
        refresh_token_idle_secs: Some(4),
        ..Settings::default()
    };
    let env = Settings::from_env(vars(&[
        (env::LISTEN, "127.0.0.1:1002"),
        (env::KDF_MS, " 10 "),
        (env::UPSTREAM_TIMEOUT_MS, "20"),
        (env::KEEP_ALIVE, "off"),
    ]))?;
    let flags = Settings {
        listen: Some("127.0.0.1:1003".into()),
        upstream_timeout_ms: Some(200),
        ..Settings::default()
    };
    let config = Config::resolve(flags.over(env.clone().over(file.clone())), false)?;
    assert_eq!(config.listen.to_string(), "127.0.0.1:1003");
    assert_eq!(config.log, "debug");
    assert_eq!(config.kdf_target, Duration::from_millis(10));
    assert_eq!(config.upstream_timeout, Duration::from_millis(200));
    assert_eq!(config.token_timeout, Duration::from_millis(3));
    assert_eq!(config.audit_days, None, "0 days turns the audit log off");
    assert!(!config.keep_alive, "the environment beats the file");
    assert_eq!(config.refresh_token_idle, Some(Duration::from_secs(4)));

    let config = Config::resolve(env.over(file), false)?;
    assert_eq!(config.listen.to_string(), "127.0.0.1:1002");
    assert_eq!(config.upstream_timeout, Duration::from_millis(20));

    assert_eq!(
        Config::resolve(Settings::default(), false)?,
        Config::default()
    );
    assert_eq!(Config::default().listen.to_string(), DEFAULT_LISTEN);
    Ok(())
}

#[test]
fn environment_values_are_parsed_and_blank_is_unset() -> Result<(), ConfigError> {
    let blank = Settings::from_env(vars(&[(env::LOG, "  "), (env::KDF_MS, "")]))?;
    assert_eq!(blank, Settings::default());
    let err = refusal(Settings::from_env(vars(&[(
        env::UPSTREAM_TIMEOUT_MS,
        "30s",
    )])));
    assert!(
        err.contains(env::UPSTREAM_TIMEOUT_MS) && err.contains("\"30s\""),
        "{err}"
    );
    for (raw, on) in [
        ("on", true),
        ("TRUE", true),
        ("1", true),
        ("off", false),
        ("no", false),
    ] {
        let read = Settings::from_env(vars(&[(env::KEEP_ALIVE, raw)]))?;
        assert_eq!(read.keep_alive, Some(on), "{raw}");
    }
    let err = refusal(Settings::from_env(vars(&[(env::KEEP_ALIVE, "sometimes")])));
    assert!(err.contains(env::KEEP_ALIVE), "{err}");
    let err = refusal(Settings::from_env(vars(&[(
        env::REFRESH_TOKEN_IDLE_SECS,
        "90d",
    )])));
    assert!(err.contains("whole number of seconds"), "{err}");
    Ok(())
}

#[test]
fn validate_names_the_setting_that_would_not_work() {
    let refused =
        |settings: Settings, allow_remote: bool| refusal(Config::resolve(settings, allow_remote));
    let listen = |raw: &str| Settings {
        listen: Some(raw.into()),
        ..Settings::default()
    };
    let err = refused(listen("0.0.0.0:7790"), false);
    assert!(err.contains("--allow-remote"), "{err}");
    assert!(Config::resolve(listen("0.0.0.0:7790"), true).is_ok());
    let err = refused(listen("localhost"), false);
    assert!(
        err.contains("KEYPORT_LISTEN") && err.contains("IP:PORT"),
        "{err}"
    );
    let log = Settings {
        log: Some("keyport=loud".into()),
        ..Settings::default()
    };
    let err = refused(log, false);
    assert!(err.contains("KEYPORT_LOG"), "{err}");
    for (settings, name) in [
        (
            Settings {
                upstream_timeout_ms: Some(0),
                ..Settings::default()
            },
            env::UPSTREAM_TIMEOUT_MS,
        ),
        (
            Settings {
                token_timeout_ms: Some(0),
                ..Settings::default()
            },
            env::TOKEN_TIMEOUT_MS,
        ),
        (
            Settings {
                refresh_token_idle_secs: Some(0),
                ..Settings::default()
            },
            env::REFRESH_TOKEN_IDLE_SECS,
        ),
    ] {
        let err = refused(settings, false);
        assert!(err.contains(name) && err.contains("at least 1"), "{err}");
    }
}
