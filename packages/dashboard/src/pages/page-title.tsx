import { useEffect, useRef } from "react";

/**
 * The page's heading. On a page change it takes the focus (so keyboard and screen-reader users land
 * on the new page, as on a full load) and names the tab.
 */
export function PageTitle({ title }: { title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · omnigate`;
    ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {title}
    </h1>
  );
}
