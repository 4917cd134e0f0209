//! First boot of an installed node.
