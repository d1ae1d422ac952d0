//! Values between the store's neutral [`Param`] / [`Value`] and PostgreSQL's typed wire
//! format. PostgreSQL types every placeholder, so a [`Param`] is encoded as the type the
//! server asked for (an integer as `int2`, `int4` or `int8`), and refuses any other.

use std::error::Error;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::store::StoreError;
use crate::store::db::{Param, Row, Value};

type BoxError = Box<dyn Error + Sync + Send>;

fn mismatch(what: &str, ty: &Type) -> BoxError {
    format!("cannot bind {what} to a {ty} parameter").into()
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT8 => v.to_sql(ty, out),
                _ => Err(mismatch("an integer", ty)),
            },
            Param::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT2 | Type::INT4 | Type::INT8 => Param::Int(i64::from(b)).to_sql(ty, out),
                _ => Err(mismatch("a boolean", ty)),
            },
            Param::Text(t) if <&str as ToSql>::accepts(ty) => t.to_sql(ty, out),
            Param::Text(_) => Err(mismatch("text", ty)),
            Param::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            Param::Blob(_) => Err(mismatch("bytes", ty)),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Column `i` of `row` as a neutral value.
fn column(row: &postgres::Row, i: usize) -> Result<Value, StoreError> {
    let ty = row.columns()[i].type_().clone();
    let value = match ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        other => {
            return Err(StoreError::Database(format!(
                "column {i} has type {other}, which the store does not read"
            )));
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

pub(super) fn row(row: &postgres::Row) -> Result<Row, StoreError> {
    (0..row.len())
        .map(|i| column(row, i))
        .collect::<Result<_, _>>()
        .map(Row)
}
