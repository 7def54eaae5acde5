import { z } from "zod";

/** Variables of the data plane (issue 5). */
export const proxyEnv = {
  // Largest JSON body accepted on /v1/* (chat histories with images can be big).
  OMNIGATE_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
};
