/* SPDX-License-Identifier: MIT */
#pragma once

/* A doubly linked list kept by its items' own `prev` and `next` fields, with
 * the head and tail held by the owner: appending and unlinking cost O(1),
 * which is what the lists kept in deadline order (oldest first, the timer
 * armed for the head) need. head and tail are lvalues; item is evaluated
 * once. */

#define LIST_APPEND(head, tail, item)                         \
        do {                                                  \
                __typeof__(item) _item = (item);              \
                _item->next = NULL;                           \
                _item->prev = (tail);                         \
                if (_item->prev)                              \
                        _item->prev->next = _item;            \
                else                                          \
                        (head) = _item;                       \
                (tail) = _item;                               \
        } while (0)

#define LIST_UNLINK(head, tail, item)                         \
        do {                                                  \
                __typeof__(item) _item = (item);              \
                if (_item->prev)                              \
                        _item->prev->next = _item->next;      \
                else                                          \
                        (head) = _item->next;                 \
                if (_item->next)                              \
                        _item->next->prev = _item->prev;      \
                else                                          \
                        (tail) = _item->prev;                 \
                _item->prev = _item->next = NULL;             \
        } while (0)
