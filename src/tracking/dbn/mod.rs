//! madmom-exact DBN beat tracker.
