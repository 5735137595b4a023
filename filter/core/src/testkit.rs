//! TEST-ONLY helpers (feature `testkit`): fixed-seed keys and a token minter.
//! Never enable the `testkit` feature in the shipped filter.
