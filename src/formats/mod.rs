//! `formats` stage: beat file import/export.
