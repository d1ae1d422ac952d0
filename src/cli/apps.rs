//! `keyport apps list [--search S] | show KEY`: the provider catalog.

use clap::Subcommand;

use super::client::{Client, enc};
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
    /// Show one app: its auth schemes and the fields each needs.
    Show { key: String },
}

fn show(app: &AppDto) {
    output::details(&[
        ("key", app.key.clone()),
        ("name", app.display_name.clone()),
        ("description", app.description.clone()),
        ("categories", app.categories.join(",")),
        ("docs", output::opt(app.docs.as_deref())),
    ]);
    println!("base url     {}", app.meta.base_url);
    for scheme in &app.auth_schemes {
        println!("\n{}", scheme.auth_mode);
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

pub fn run(client: &Client, cmd: AppsCmd, as_json: bool) -> CliResult {
    match cmd {
        AppsCmd::List { search, category } => {
            let query = AppListQuery { search, category };
            let list: Page<AppDto> = client.get_with("/api/v1/apps", &query)?;
            output::print(&list, as_json, |list| {
                output::table_of(
                    &["KEY", "NAME", "CATEGORIES", "SCHEMES"],
                    &list.items,
                    |a| {
                        let schemes: Vec<String> = a
                            .auth_schemes
                            .iter()
                            .map(|s| s.auth_mode.to_string())
                            .collect();
                        vec![
                            a.key.clone(),
                            a.display_name.clone(),
                            a.categories.join(","),
                            schemes.join(","),
                        ]
                    },
                )
            });
        }
        AppsCmd::Show { key } => {
            let app: AppDto = client.get(&format!("/api/v1/apps/{}", enc(&key)))?;
            output::print(&app, as_json, show);
        }
    }
    Ok(())
}
