//! Tests of the catalog as a whole: the embedded file entry by entry (`entries`), the field
//! lists it yields (`fields`), and loading user files next to it (`load`).
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod entries;
mod fields;
mod lint;
mod load;
mod quirks;

use super::*;

fn builtin() -> Catalog {
    Catalog::builtin().unwrap()
}

fn names(fields: &[FieldSpec]) -> Vec<&str> {
    fields.iter().map(|f| f.name.as_str()).collect()
}

/// The integration fields of `app`'s `mode` scheme.
fn integration_fields(catalog: &Catalog, app: &str, mode: AuthScheme) -> Vec<FieldSpec> {
    catalog
        .get(app)
        .unwrap()
        .scheme(mode)
        .unwrap()
        .integration_fields()
}
