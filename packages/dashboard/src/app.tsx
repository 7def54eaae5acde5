import { lazy, Suspense } from "react";
import { Link, Route, Router, Switch, useLocation } from "wouter";
import { useHashLocation } from "wouter/use-hash-location";
import { LiveProvider, useStreamStatus } from "./api/live.js";
import { signOut, useAdminKey } from "./api/session.js";
import { Keys } from "./pages/keys.js";
import { Models } from "./pages/models.js";
import { Nodes } from "./pages/nodes.js";
import { Overview } from "./pages/overview.js";
import { SignIn } from "./pages/sign-in.js";

// Loaded when first opened: the pages an operator watches start with less script to run.
const Playground = lazy(() => import("./playground/playground.js").then((m) => ({ default: m.Playground })));

const PAGES = [
  { href: "/", label: "Overview" },
  { href: "/nodes", label: "Nodes" },
  { href: "/models", label: "Models" },
  { href: "/keys", label: "Keys" },
  { href: "/playground", label: "Playground" },
] as const;

function StreamStatus() {
  const status = useStreamStatus();
  const text = status === "live" ? "live" : status === "connecting" ? "connecting…" : "reconnecting…";
  return (
    <span className={`stream-${status}`} role="status" title="The event stream that keeps these pages current">
      {text}
    </span>
  );
}

function Header() {
  const [location] = useLocation();
  const current = (href: string) => (href === "/" ? location === "/" : location.startsWith(href));
  return (
    <header className="container top">
      <nav aria-label="Main">
        <ul>
          <li>
            <strong>omnigate</strong>
          </li>
        </ul>
        <ul className="pages">
          {PAGES.map((p) => (
            <li key={p.href}>
              <Link href={p.href} aria-current={current(p.href) ? "page" : undefined}>
                {p.label}
              </Link>
            </li>
          ))}
        </ul>
        <ul>
          <li>
            <StreamStatus />
          </li>
          <li>
            <button type="button" className="secondary outline" onClick={() => signOut()}>
              Sign out
            </button>
          </li>
        </ul>
      </nav>
    </header>
  );
}

/**
 * Signed out: the sign-in page. Signed in: the event stream opens and the pages follow it. Routes
 * live in the URL's fragment (`/#/nodes`), so the gateway serves one file and every link reloads.
 */
export function App() {
  const key = useAdminKey();
  if (!key) return <SignIn />;
  return (
    <Router hook={useHashLocation}>
      <LiveProvider key={key} adminKey={key}>
        <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
          Skip to content
        </a>
        <Header />
        <main id="main" className="container" tabIndex={-1}>
          <Suspense fallback={<p aria-busy="true">Loading…</p>}>
            <Switch>
              <Route path="/" component={Overview} />
              <Route path="/nodes" component={Nodes} />
              <Route path="/models" component={Models} />
              <Route path="/keys" component={Keys} />
              <Route path="/playground/:tab?" component={Playground} />
              <Route>
                <h1>Not found</h1>
                <p>
                  There is no such page. <Link href="/">Go to the overview</Link>.
                </p>
              </Route>
            </Switch>
          </Suspense>
        </main>
      </LiveProvider>
    </Router>
  );
}
