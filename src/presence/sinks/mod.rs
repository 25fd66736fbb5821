//! The presence sinks, one module per kind of tool.
