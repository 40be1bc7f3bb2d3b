// A page of a project's own product that embeds Ampersand's UI library, as its users write one.
// Bundled by the test with the server's URL, the project and its key defined at build time.
import { AmpersandProvider, ConnectProvider, InstallIntegration } from '@amp-labs/react';
import '@amp-labs/react/styles';
import { createRoot } from 'react-dom/client';

const query = new URLSearchParams(window.location.search);
const who = {
  groupRef: query.get('groupRef'),
  groupName: query.get('groupName'),
  consumerRef: query.get('consumerRef'),
  consumerName: query.get('consumerName'),
};

// The test waits for these: the components' callbacks put what happened in the title.
const report = (what) => {
  document.title = what;
};

function Component() {
  if (window.location.pathname === '/install')
    return (
      <InstallIntegration
        integration={query.get('integration')}
        {...who}
        onInstallSuccess={(id) => report(`installed ${id}`)}
        onUpdateSuccess={(id) => report(`updated ${id}`)}
      />
    );
  return (
    <ConnectProvider
      provider={query.get('provider')}
      {...who}
      onConnectSuccess={(connection) => report(`connected ${connection.id}`)}
    />
  );
}

// With ?auth=jwt the page holds no API key: it asks its own server for a token per group and user.
const credentials =
  query.get('auth') === 'jwt'
    ? {
        getToken: async ({ consumerRef, groupRef }) =>
          (await fetch(`/token?${new URLSearchParams({ consumerRef, groupRef })}`)).text(),
      }
    : { apiKey: process.env.PAGE_API_KEY };

createRoot(document.getElementById('root')).render(
  <AmpersandProvider options={{ project: process.env.PAGE_PROJECT, ...credentials }}>
    <Component />
  </AmpersandProvider>,
);
