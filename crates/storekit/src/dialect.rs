/// The SQL flavour of a backend: Postgres in production, SQLite as the
/// embedded default. The same statements run on both through sqlx's `Any`
/// driver; the few places where they differ match on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else {
            None
        }
    }

    /// Row lock for read-modify-write; SQLite has one writer and needs none.
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Postgres => " FOR UPDATE",
            Self::Sqlite => "",
        }
    }

    /// `db.system` of storage spans.
    pub fn db_system(self) -> &'static str {
        match self {
            Self::Postgres => "postgresql",
            Self::Sqlite => "sqlite",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            Dialect::from_url("postgres://h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(
            Dialect::from_url("postgresql://h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::from_url("sqlite:data/x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("mysql://h/db"), None);
    }
}
