//! ECMA-354 application sessions (placeholder while it lands).
