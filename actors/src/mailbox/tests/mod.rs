//! The rules of a mailbox, one given/when/then at a time, and the interpreter driven through
//! in-process doubles, crashed at each step of its longest paths.

mod access;
mod booking;
mod interpreter;
mod meeting;
mod presence;
mod subscription;
