/*
 * A PKCS#11 module for tests: it forwards every call to a real module
 * (SoftHSM2 by default) and logs the calls that matter for key custody,
 * one line each, to $SCB_P11SHIM_LOG:
 *
 *   C_GetAttributeValue <attribute types in hex>   (CKA_VALUE is 0x11)
 *   C_SignInit / C_EncryptInit / C_WrapKey / C_GenerateKey <mechanism>
 *   C_CreateObject / C_SetAttributeValue <attribute types>   (never values)
 *   C_Login <user type>                                       (never the PIN)
 *
 * so a test can prove what the library asked the token for, and never
 * asked (the value of a key). It can also make the token look poorer or
 * stuck, the way real tokens are:
 *
 *   SCB_P11SHIM_TARGET      the module to forward to
 *   SCB_P11SHIM_HIDE        mechanisms the token "lacks", comma-separated
 *                           names: CKM_AES_CMAC, CKM_AES_CBC, CKM_AES_ECB,
 *                           CKM_AES_KEY_GEN (absent from the mechanism list,
 *                           C_GetMechanismInfo and every *Init)
 *   SCB_P11SHIM_PIN_LOCKED  "1": the user PIN is locked (token flag
 *                           CKF_USER_PIN_LOCKED, C_Login CKR_PIN_LOCKED):
 *                           SoftHSM2 never locks its user PIN itself
 *
 * Test code, so it keeps its state in statics (one forwarded module per
 * process); the library under test keeps none.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;
static void *handle;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    const char *path = getenv("SCB_P11SHIM_LOG");
    if (path == NULL)
        return;
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
} mech_names[] = {
    {"CKM_AES_CMAC", CKM_AES_CMAC},
    {"CKM_AES_CBC", CKM_AES_CBC},
    {"CKM_AES_ECB", CKM_AES_ECB},
    {"CKM_AES_KEY_GEN", CKM_AES_KEY_GEN},
};

static int hidden(CK_MECHANISM_TYPE m)
{
    const char *hide = getenv("SCB_P11SHIM_HIDE");
    if (hide == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++) {
        if (mech_names[i].mech != m)
            continue;
        size_t n = strlen(mech_names[i].name);
        for (const char *p = hide; (p = strstr(p, mech_names[i].name)) != NULL; p += n)
            if ((p == hide || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
                return 1;
    }
    return 0;
}

static int pin_locked(void)
{
    const char *v = getenv("SCB_P11SHIM_PIN_LOCKED");
    return v != NULL && strcmp(v, "1") == 0;
}

static void log_types(const char *fn, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    char line[1024];
    size_t o = (size_t)snprintf(line, sizeof(line), "%s %lu", fn, (unsigned long)h);
    for (CK_ULONG i = 0; i < n && o + 20 < sizeof(line); i++)
        o += (size_t)snprintf(line + o, sizeof(line) - o, " 0x%lx", (unsigned long)t[i].type);
    logf_("%s", line);
}

static CK_RV shim_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n)
{
    CK_ULONG cap = list != NULL ? *n : 0;
    CK_ULONG all = 0;
    CK_RV rv = real->C_GetMechanismList(slot, NULL, &all);
    if (rv != CKR_OK)
        return rv;
    CK_MECHANISM_TYPE *tmp = calloc(all + 1, sizeof(*tmp));
    if (tmp == NULL)
        return CKR_HOST_MEMORY;
    rv = real->C_GetMechanismList(slot, tmp, &all);
    CK_ULONG kept = 0;
    for (CK_ULONG i = 0; rv == CKR_OK && i < all; i++) {
        if (hidden(tmp[i]))
            continue;
        if (list != NULL && kept < cap)
            list[kept] = tmp[i];
        kept++;
    }
    free(tmp);
    if (rv != CKR_OK)
        return rv;
    *n = kept;
    return list != NULL && kept > cap ? CKR_BUFFER_TOO_SMALL : CKR_OK;
}

static CK_RV shim_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO_PTR i)
{
    if (hidden(m))
        return CKR_MECHANISM_INVALID;
    return real->C_GetMechanismInfo(slot, m, i);
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    CK_RV rv = real->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK && pin_locked())
        info->flags |= CKF_USER_PIN_LOCKED;
    return rv;
}

static CK_RV shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG n)
{
    logf_("C_Login %lu", (unsigned long)user);
    if (pin_locked())
        return CKR_PIN_LOCKED;
    return real->C_Login(s, user, pin, n);
}

static CK_RV shim_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR t,
                                    CK_ULONG n)
{
    log_types("C_GetAttributeValue", h, t, n);
    return real->C_GetAttributeValue(s, h, t, n);
}

static CK_RV shim_SetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR t,
                                    CK_ULONG n)
{
    log_types("C_SetAttributeValue", h, t, n);
    return real->C_SetAttributeValue(s, h, t, n);
}

static CK_RV shim_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                               CK_OBJECT_HANDLE_PTR h)
{
    log_types("C_CreateObject", 0, t, n);
    return real->C_CreateObject(s, t, n, h);
}

static CK_RV shim_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    logf_("C_SignInit 0x%lx %lu", (unsigned long)m->mechanism, (unsigned long)k);
    if (hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    return real->C_SignInit(s, m, k);
}

static CK_RV shim_EncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    logf_("C_EncryptInit 0x%lx %lu", (unsigned long)m->mechanism, (unsigned long)k);
    if (hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    return real->C_EncryptInit(s, m, k);
}

static CK_RV shim_WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE w,
                          CK_OBJECT_HANDLE k, CK_BYTE_PTR out, CK_ULONG_PTR n)
{
    logf_("C_WrapKey 0x%lx %lu %lu", (unsigned long)m->mechanism, (unsigned long)w,
          (unsigned long)k);
    if (hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    return real->C_WrapKey(s, m, w, k, out, n);
}

static CK_RV shim_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
                              CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
    log_types("C_GenerateKey", 0, t, n);
    if (hidden(m->mechanism))
        return CKR_MECHANISM_INVALID;
    return real->C_GenerateKey(s, m, t, n, h);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    if (real == NULL) {
        const char *target = getenv("SCB_P11SHIM_TARGET");
        handle = dlopen(target != NULL ? target : DEFAULT_TARGET, RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL)
            return CKR_GENERAL_ERROR;
        CK_C_GetFunctionList get = NULL;
        /* dlsym gives an object pointer; POSIX (dlsym RATIONALE) copies it this way */
        void *sym = dlsym(handle, "C_GetFunctionList");
        memcpy(&get, &sym, sizeof(get));
        if (get == NULL || get(&real) != CKR_OK || real == NULL)
            return CKR_GENERAL_ERROR;
        shim = *real;
        shim.C_GetMechanismList = shim_GetMechanismList;
        shim.C_GetMechanismInfo = shim_GetMechanismInfo;
        shim.C_GetTokenInfo = shim_GetTokenInfo;
        shim.C_Login = shim_Login;
        shim.C_GetAttributeValue = shim_GetAttributeValue;
        shim.C_SetAttributeValue = shim_SetAttributeValue;
        shim.C_CreateObject = shim_CreateObject;
        shim.C_SignInit = shim_SignInit;
        shim.C_EncryptInit = shim_EncryptInit;
        shim.C_WrapKey = shim_WrapKey;
        shim.C_GenerateKey = shim_GenerateKey;
    }
    *out = &shim;
    return CKR_OK;
}
