//! manywheel-audit
