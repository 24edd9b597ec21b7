/* scboot: the command line. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(cli_opts_t *o);
} command_t;

static const command_t commands[] = {
    {"read", cmd_read},       {"write", cmd_write}, {"put-key", cmd_put_key},
    {"readers", cmd_readers}, {"apdu", cmd_apdu},   {"sim", cmd_sim},
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        cli_usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "help") == 0) {
        cli_usage(stdout, argc > 2 ? argv[2] : NULL);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("scboot %s\n", scb_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        cli_opts_t o;
        int ret = cli_parse(argv[1], argc - 2, argv + 2, &o) ? commands[i].run(&o) : EXIT_USAGE;
        free(o.args);
        return ret;
    }
    fprintf(stderr, "scboot: unknown command '%s' (see scboot help)\n", argv[1]);
    return EXIT_USAGE;
}
