//! `keyport apps list [--search S] | show KEY`: the provider catalog.

use clap::Subcommand;

use super::client::{Client, enc};
use super::{CliResult, output};

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

pub fn run(client: &Client, cmd: AppsCmd, as_json: bool) -> CliResult {
    match cmd {
        AppsCmd::List { search, category } => {
            let mut query = Vec::new();
            if let Some(s) = search {
                query.push(format!("search={}", enc(&s)));
            }
            if let Some(c) = category {
                query.push(format!("category={}", enc(&c)));
            }
            let list = client.get(&format!("/api/v1/apps?{}", query.join("&")))?;
            if as_json {
                output::json(&list);
            } else {
                let rows = list["items"]
                    .as_array()
                    .map(|apps| {
                        apps.iter()
                            .map(|a| {
                                let schemes: Vec<String> = a["auth_schemes"]
                                    .as_array()
                                    .map(|s| {
                                        s.iter().map(|s| output::cell(&s["auth_mode"])).collect()
                                    })
                                    .unwrap_or_default();
                                vec![
                                    output::cell(&a["key"]),
                                    output::cell(&a["display_name"]),
                                    output::cell(&a["categories"]),
                                    schemes.join(","),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                output::table(&["KEY", "NAME", "CATEGORIES", "SCHEMES"], rows);
            }
        }
        AppsCmd::Show { key } => {
            let app = client.get(&format!("/api/v1/apps/{}", enc(&key)))?;
            if as_json {
                output::json(&app);
                return Ok(());
            }
            output::details(
                &app,
                &[
                    ("key", "key"),
                    ("name", "display_name"),
                    ("description", "description"),
                    ("categories", "categories"),
                    ("docs", "docs"),
                ],
            );
            println!("base url     {}", output::cell(&app["meta"]["base_url"]));
            for scheme in app["auth_schemes"].as_array().into_iter().flatten() {
                println!("\n{}", output::cell(&scheme["auth_mode"]));
                for field in scheme["fields"].as_array().into_iter().flatten() {
                    let who = if field["expected_from_customer"].as_bool().unwrap_or(false) {
                        "connection"
                    } else {
                        "integration"
                    };
                    let need = if field["required"].as_bool().unwrap_or(false) {
                        "required"
                    } else {
                        "optional"
                    };
                    let secret = if field["is_secret"].as_bool().unwrap_or(false) {
                        ", secret"
                    } else {
                        ""
                    };
                    println!(
                        "  {:<22} {who}, {need}{secret}: {}",
                        output::cell(&field["name"]),
                        output::cell(&field["description"])
                    );
                }
            }
        }
    }
    Ok(())
}
