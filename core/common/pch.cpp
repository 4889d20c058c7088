// Compiles the shared precompiled header (see core/CMakeLists.txt); intentionally holds no code.
