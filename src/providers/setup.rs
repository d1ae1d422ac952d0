//! What a developer must know to set an app's scheme up, in sentences derived from the
//! entry: which scopes are asked for and how they are joined, PKCE, how the client
//! authenticates at the token endpoint, where an API key goes. The registration page and
//! the redirect URI are per app and per keyport, so the API adds them next to these.

use super::catalog::{
    OAuth2Spec, SchemeDetails, SchemeSpec, SignatureMethod, TokenAuth, TokenRequest,
};

impl SchemeSpec {
    /// Setup notes for this scheme, one sentence each.
    pub fn setup_notes(&self) -> Vec<String> {
        let mut notes = self.mode_notes();
        for lookup in &self.lookups {
            let names: Vec<&str> = lookup.vars.keys().map(String::as_str).collect();
            notes.push(format!(
                "Once connected, {} is read from {}.",
                names.join(", "),
                lookup.url.as_str()
            ));
        }
        notes
    }

    fn mode_notes(&self) -> Vec<String> {
        match &self.details {
            SchemeDetails::OAuth2(o) => oauth2_notes(o),
            SchemeDetails::OAuth1(o) => {
                let mut notes = vec![format!(
                    "OAuth 1.0a, requests signed with {}.",
                    o.signature_method.as_str()
                )];
                if o.signature_method == SignatureMethod::RsaSha1 {
                    notes.push(
                        "The integration holds an RSA private key; register its public key with the provider."
                            .to_string(),
                    );
                }
                notes
            }
            SchemeDetails::ApiKey(k) => {
                let mut notes = vec![format!(
                    "The key is sent in the {} {}{}.",
                    k.location.as_str(),
                    k.name,
                    if k.prefix.is_empty() {
                        String::new()
                    } else {
                        format!(" after {:?}", k.prefix)
                    }
                )];
                for extra in &k.extra {
                    notes.push(format!(
                        "{} goes in the {} {}.",
                        extra.display_name,
                        extra.location.as_str(),
                        extra.name
                    ));
                }
                notes
            }
            SchemeDetails::Basic(b) => vec![format!(
                "HTTP Basic with the {} and the {}.",
                b.username_label.to_lowercase(),
                b.password_label.to_lowercase()
            )],
            SchemeDetails::BasicWithJwt(j) => vec![format!(
                "Username and password are exchanged at {} for a bearer JWT.",
                j.token_url.as_str()
            )],
            SchemeDetails::GoogleServiceAccount(g) => vec![format!(
                "A service-account key signs a JWT assertion at {}{}.",
                g.token_url.as_str(),
                if g.default_scopes.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", g.default_scopes.join(" "))
                }
            )],
            SchemeDetails::BearerToken {} => vec![
                "Paste a token the provider issued (a personal or API access token).".to_string(),
            ],
            SchemeDetails::NoAuth {} => vec!["No credentials are needed.".to_string()],
        }
    }
}

fn oauth2_notes(o: &OAuth2Spec) -> Vec<String> {
    let mut notes = Vec::new();
    notes.push(if o.default_scopes.is_empty() {
        "No default scopes: the OAuth app's own settings decide what is granted.".to_string()
    } else {
        format!(
            "Default scopes: {}",
            o.default_scopes.join(&o.scope_separator)
        )
    });
    if o.scope_separator == "," {
        notes.push("Scopes are joined with commas, not spaces.".to_string());
    }
    if o.pkce {
        notes.push("PKCE (S256) is sent with every authorization.".to_string());
    }
    notes.push(token_auth_note(o.token_auth).to_string());
    if o.token_request == TokenRequest::Json {
        notes.push("Token requests are sent as JSON, not as a form.".to_string());
    }
    if let Some(user) = &o.user_scopes {
        notes.push(format!(
            "user_scopes are requested as {} and give the connection the user's token (from {}).",
            user.param, user.tokens_at
        ));
    }
    if !o.token_response_vars.is_empty() {
        let names: Vec<&str> = o.token_response_vars.keys().map(String::as_str).collect();
        notes.push(format!(
            "The token response sets the connection's {}.",
            names.join(", ")
        ));
    }
    if !o.authorization_params.is_empty() {
        let params: Vec<String> = o
            .authorization_params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        notes.push(format!(
            "The authorization request also carries {}.",
            params.join(", ")
        ));
    }
    if o.client_credentials {
        notes.push(
            "The provider also grants the client its own token (client credentials).".to_string(),
        );
        if !o.client_credentials_scopes.is_empty() {
            notes.push(format!(
                "Client credentials ask for {} unless the integration names its own scopes.",
                o.client_credentials_scopes.join(" ")
            ));
        }
        for (name, refused) in &o.client_credentials_refuses {
            notes.push(format!(
                "Client credentials need a specific {name}, not {}.",
                refused.join(", ")
            ));
        }
    }
    if let Some(url) = &o.revocation_url {
        notes.push(format!("The revocation endpoint is {}.", url.as_str()));
    }
    if let Some(secs) = o.refresh_token_idle_secs {
        let days = secs.get() / 86_400;
        notes.push(format!("Refresh tokens lapse after {days} days unused."));
    }
    notes
}

fn token_auth_note(auth: TokenAuth) -> &'static str {
    match auth {
        TokenAuth::ClientSecretBasic => {
            "The client authenticates at the token endpoint with HTTP Basic (client_secret_basic)."
        }
        TokenAuth::ClientSecretPost => {
            "The client sends its id and secret in the token request body (client_secret_post)."
        }
        TokenAuth::None => "A public client: no client secret, PKCE carries the proof.",
    }
}
