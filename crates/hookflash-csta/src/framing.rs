//! Framings of CSTA links (placeholder).
