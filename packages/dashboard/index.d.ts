/** The folder `vite build` writes the dashboard to (index.html, assets/), for the gateway to serve. */
export declare const dashboardDir: string;
