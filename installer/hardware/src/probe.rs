//! Reading a machine profile from a live system or a recorded sysroot.
