/* A minimal libtrtmatte client for the aarch64 emulation test: mattes one raw RGB image through
 * the C ABI (no image codecs, so it links nothing but libtrtmatte and builds for any target).
 *   matte_raw MODEL RGB_FILE HEIGHT WIDTH ALPHA_FILE
 * RGB_FILE: HEIGHT*WIDTH*3 bytes, rows packed; ALPHA_FILE gets HEIGHT*WIDTH bytes. Prints the
 * backend's one-line description. */
#include <trtmatte/trtmatte_c.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char* what) {
    fprintf(stderr, "matte_raw: %s: %s\n", what, trtmatte_last_error());
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: matte_raw MODEL RGB_FILE HEIGHT WIDTH ALPHA_FILE\n");
        return 2;
    }
    int height = atoi(argv[3]), width = atoi(argv[4]);
    size_t pixels = (size_t)height * (size_t)width;
    unsigned char* rgb = malloc(pixels * 3);
    unsigned char* alpha = malloc(pixels);
    FILE* in = fopen(argv[2], "rb");
    if (!rgb || !alpha || !in || fread(rgb, 1, pixels * 3, in) != pixels * 3) {
        fprintf(stderr, "matte_raw: cannot read %zu bytes from %s\n", pixels * 3, argv[2]);
        return 1;
    }
    fclose(in);
    trtmatte_matter* matter = NULL;
    if (trtmatte_open(argv[1], NULL, &matter) != TRTMATTE_OK) return fail("open");
    printf("%s\n", trtmatte_describe(matter));
    if (trtmatte_matte(matter, rgb, height, width, (size_t)width * 3, alpha) != TRTMATTE_OK) return fail("matte");
    trtmatte_close(matter);
    FILE* out = fopen(argv[5], "wb");
    if (!out || fwrite(alpha, 1, pixels, out) != pixels || fclose(out) != 0) {
        fprintf(stderr, "matte_raw: cannot write %s\n", argv[5]);
        return 1;
    }
    free(rgb);
    free(alpha);
    return 0;
}
