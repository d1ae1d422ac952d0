//! What the body targets share: the first byte of the input picks one of a list of
//! deserializers, and the rest is fed to it as a JSON body or as a query string.

/// Runs the deserializer the input's first byte picks (modulo the list's length): each
/// `json` type from the rest as a JSON body, then each `query` type through `$parse` from the
/// rest as a query string (lossy UTF-8).
macro_rules! pick_and_parse {
    ($data:expr; json: $($body:ty),+; query with $parse:ident: $($query:ty),+ $(,)?) => {{
        let Some((&pick, body)) = $data.split_first() else {
            return;
        };
        let query = String::from_utf8_lossy(body);
        let parsers: &[&dyn Fn()] = &[
            $(&|| drop(serde_json::from_slice::<$body>(body)),)+
            $(&|| drop($parse::<$query>(&query)),)+
        ];
        parsers[usize::from(pick) % parsers.len()]();
    }};
}
