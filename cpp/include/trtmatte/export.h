/* Symbol visibility: libtrtmatte is built with -fvisibility=hidden, so only what is marked
 * TRTMATTE_API is exported (the C ABI, trtmatte::Matter and trtmatte::Error). trtmatte::Error
 * must be exported too: an exception thrown in the library is caught in the application only if
 * both sides see the same type_info. */
#ifndef TRTMATTE_EXPORT_H
#define TRTMATTE_EXPORT_H

#if defined(_WIN32)
#define TRTMATTE_API
#else
#define TRTMATTE_API __attribute__((visibility("default")))
#endif

#endif
