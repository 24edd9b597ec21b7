/* A user program built against the installed library (pkg-config or
 * find_package): callback transport, one APDU, error texts. */
#include <scboot.h>
#include <scboot/apdu.h>
#include <scboot/transport.h>
#include <stdio.h>
#include <string.h>

static int answer(void *user, const unsigned char *cmd, size_t len, unsigned char *resp,
                  size_t *resp_len)
{
    (void)user;
    (void)cmd;
    (void)len;
    static const unsigned char ok[] = {0x01, 0x02, 0x90, 0x00};
    memcpy(resp, ok, sizeof(ok));
    *resp_len = sizeof(ok);
    return 0;
}

int main(void)
{
    scb_transport_t tp = {0};
    tp.version = SCB_TRANSPORT_VERSION;
    tp.transmit = answer;
    scb_card_t *card = NULL;
    if (scb_card_open_transport(&card, &tp) != SCB_OK)
        return 1;
    const unsigned char cmd[] = {0x00, 0xB0, 0x00, 0x00, 0x02};
    unsigned char resp[16];
    size_t rlen = sizeof(resp);
    int rc = scb_card_transmit(card, cmd, sizeof(cmd), resp, &rlen);
    printf("scboot %s: rc=%d len=%zu sw=%04X (%s)\n", scb_version(), rc, rlen,
           scb_card_last_sw(card), scb_strerror(SCB_E_SCP_CARD_CRYPTOGRAM));
    scb_card_free(&card);
    return rc == SCB_OK && rlen == 4 && card == NULL ? 0 : 1;
}
