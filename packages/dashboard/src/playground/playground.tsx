import { Link, useParams } from "wouter";
import { PageTitle } from "../pages/page-title.js";
import { Chat } from "./chat.js";
import { Images } from "./images.js";
import { Speech } from "./speech.js";
import { Transcription } from "./transcription.js";

const TABS = [
  { id: "chat", label: "Chat", Panel: Chat },
  { id: "speech", label: "Speech", Panel: Speech },
  { id: "transcription", label: "Transcription", Panel: Transcription },
  { id: "images", label: "Images", Panel: Images },
] as const;

/** Try each kind of model through the gateway's own /v1 endpoints, with the admin key. */
export function Playground() {
  const { tab } = useParams<{ tab?: string }>();
  const current = TABS.find((t) => t.id === tab) ?? TABS[0];
  return (
    <>
      <PageTitle title="Playground" />
      <nav aria-label="Playground">
        <ul className="tabs">
          {TABS.map((t) => (
            <li key={t.id}>
              <Link href={`/playground/${t.id}`} aria-current={t.id === current.id ? "page" : undefined}>
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <current.Panel />
    </>
  );
}
