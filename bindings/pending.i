/* TEMPORARY: functions declared in scboot.h whose implementation has not
 * landed on main yet (the lead's access flow). Delete once merged. */
%ignore scb_app_close;
%ignore scb_bind_read_bootstrap;
%ignore scb_bind_write_bootstrap;
%ignore scb_bind_app_open;
