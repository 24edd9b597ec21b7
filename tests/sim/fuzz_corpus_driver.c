/* Runs the libFuzzer harness over every file of a corpus directory (no
 * libFuzzer needed), so that the harness and its seeds are checked by ctest. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (d == NULL) {
        perror(argv[1]);
        return 1;
    }
    struct dirent *e;
    int files = 0;
    static uint8_t buf[1 << 20];
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf), fp);
        fclose(fp);
        LLVMFuzzerTestOneInput(buf, n);
        files++;
    }
    closedir(d);
    fprintf(stderr, "%d inputs ran\n", files);
    return files > 0 ? 0 : 1;
}
