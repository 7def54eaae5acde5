import { z } from "zod";

/** Variables of the engines and their supervisor (issue 4). */
export const engineEnv = {
  // Engine binaries; unset = look up the ENGINES.md name on PATH.
  OMNIGATE_LLAMA_SERVER_BIN: z.string().optional(),
  OMNIGATE_WHISPER_SERVER_BIN: z.string().optional(),
  OMNIGATE_SD_SERVER_BIN: z.string().optional(),
  OMNIGATE_SD_CLI_BIN: z.string().optional(),
  OMNIGATE_TTS_BIN: z.string().optional(),
};
