//! `keyport apps list [--search S] | show KEY`: the provider catalog.

use clap::Subcommand;

use super::client::{Client, enc};
use super::output::Field;
use super::{CliResult, output};
use crate::http::dto::{AppDto, AppListQuery, Page};

#[derive(Subcommand, Debug)]
pub enum AppsCmd {
    /// List the apps keyport knows.
    List {
        /// Only apps whose key, name or description contains this.
        #[arg(long)]
        search: Option<String>,
        /// Only apps in this category.
        #[arg(long)]
        category: Option<String>,
    },
    /// Show one app: how to set it up (registration page, redirect URI, scopes, quirks),
    /// its auth schemes and the fields each needs.
    Show { key: String },
}

const KEY: Field<AppDto> = ("key", |a| a.key.clone());
const NAME: Field<AppDto> = ("name", |a| a.display_name.clone());
const DESCRIPTION: Field<AppDto> = ("description", |a| a.description.clone());
const CATEGORIES: Field<AppDto> = ("categories", |a| a.categories.join(","));
const DOCS: Field<AppDto> = ("docs", |a| output::opt(a.docs.as_deref()));
const SCHEMES: Field<AppDto> = ("schemes", |a| {
    let modes: Vec<String> = a
        .auth_schemes
        .iter()
        .map(|s| s.auth_mode.to_string())
        .collect();
    modes.join(",")
});

fn show(app: &AppDto) {
    output::details_of(app, &[KEY, NAME, DESCRIPTION, CATEGORIES, DOCS]);
    println!("base url     {}", app.meta.base_url);
    show_setup(app);
    for scheme in &app.auth_schemes {
        println!("\n{}", scheme.auth_mode);
        for note in &scheme.setup_notes {
            println!("  {note}");
        }
        for field in &scheme.fields {
            let who = if field.expected_from_customer {
                "connection"
            } else {
                "integration"
            };
            let need = if field.required {
                "required"
            } else {
                "optional"
            };
            let secret = if field.is_secret { ", secret" } else { "" };
            println!(
                "  {:<22} {who}, {need}{secret}: {}",
                field.name, field.description
            );
        }
    }
}

/// How to set the app up: where to register an OAuth app and what redirect URI to paste.
fn show_setup(app: &AppDto) {
    if app.register_url.is_none() && app.redirect_uri.is_none() && app.notes.is_none() {
        return;
    }
    println!("\nset up");
    if let Some(url) = &app.register_url {
        println!("  register an OAuth app at {url}");
    }
    if let Some(uri) = &app.redirect_uri {
        println!("  redirect URI to paste    {uri}");
    }
    if let Some(notes) = &app.notes {
        println!("  note: {notes}");
    }
}

pub fn run(client: &Client, cmd: AppsCmd, as_json: bool) -> CliResult {
    match cmd {
        AppsCmd::List { search, category } => {
            let query = AppListQuery { search, category };
            let list: Page<AppDto> = client.get_with("/api/v1/apps", &query)?;
            output::print(&list, as_json, |list| {
                output::table_of(&list.items, &[KEY, NAME, CATEGORIES, SCHEMES])
            });
        }
        AppsCmd::Show { key } => {
            let app: AppDto = client.get(&format!("/api/v1/apps/{}", enc(&key)))?;
            output::print(&app, as_json, show);
        }
    }
    Ok(())
}
