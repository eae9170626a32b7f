//! lathe-scripting: the Rhai `script` node kind.
