// Negative control for the ctgrind test: a variable-time compare (early exit
// on the first differing secret byte) MUST be reported by valgrind. If this
// ever runs clean, the ctgrind setup is not detecting anything.
#include <stdint.h>
#include <stdio.h>
#include <valgrind/memcheck.h>

static int leaky_equal(const uint8_t *a, const uint8_t *b, int n) {
    for (int i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

int main(void) {
    uint8_t a[16] = {1, 2, 3}, b[16] = {1, 2, 4};
    VALGRIND_MAKE_MEM_UNDEFINED(a, sizeof(a));
    int r = leaky_equal(a, b, 16);
    VALGRIND_MAKE_MEM_DEFINED(&r, sizeof(r));
    printf("leaky_equal=%d\n", r);
    return 0;
}
