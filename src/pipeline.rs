//! `pipeline`: the entry-point ladder.
