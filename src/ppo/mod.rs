//! The trainer side: the only module that uses tch (libtorch). Built with the default `torch` feature.

pub mod device;
