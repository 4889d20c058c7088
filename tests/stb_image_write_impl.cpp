// stb_image_write's implementation (Debian's libstb-dev, header only), in a file of its own so that the one
// sanitizer check it fails is switched off here and nowhere else (tests/data.cmake). test_data writes its PNG and
// JPEG fixtures with it.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
