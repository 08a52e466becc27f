//! Wire formats: status lines, multi-line bodies, listings, capabilities, commands.
//! Pure functions and small state machines, apart from the session logic.

pub mod capa;
pub mod command;
pub mod greeting;
pub mod listing;
pub mod multiline;
pub mod status;
