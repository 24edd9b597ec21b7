/* TEMPORARY: functions declared in scboot.h whose implementation has not
 * landed on main yet. Nothing is pending since the access flow landed;
 * delete this file and its %include in scboot.i. */
