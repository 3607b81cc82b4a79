/* The C ABI through the same imported target. */
#include <trtmatte/trtmatte_c.h>

#include <stdio.h>

int main(void) {
    trtmatte_matter* m = NULL;
    if (trtmatte_open("/no/such/model.onnx", NULL, &m) != TRTMATTE_ERROR_NOT_FOUND) return 1;
    printf("trtmatte %s: %s\n", trtmatte_version(), trtmatte_last_error());
    return 0;
}
