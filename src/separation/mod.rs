//! `separation` stage: percussive / non-percussive stems.
