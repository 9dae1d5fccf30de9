/**
 * NextAuth.js (v4) signing portal users in, end to end (docs/frontend.md walks through it):
 * the signIn callback calls sync-user from the server with the organization's API key, the session
 * token it answers lives in NextAuth's JWT (an encrypted, httpOnly cookie), server code calls the
 * API with it, and signing out ends it in the portal too.
 *
 * In a Next.js app (App Router) this is lib/auth.ts, used by:
 *   app/api/auth/[...nextauth]/route.ts:  const handler = NextAuth(authOptions); export { handler as GET, handler as POST };
 *   app/api/me/route.ts:                  export const GET = (req: NextRequest) => currentUserResponse(req);
 * The tests type-check it with tsc --strict against the SDK and next-auth's own types.
 */
import type { NextAuthOptions } from "next-auth";
import { type JWT, getToken } from "next-auth/jwt";
import GoogleProvider from "next-auth/providers/google";

import { PortalApiError, type PortalClient, type Schemas, createPortalClient, ok } from "@portal/client";

const baseUrl = process.env.PORTAL_API_URL ?? "http://127.0.0.1:8080";

/** What the app keeps of a portal sign-in: sessionToken is a bearer credential (ps_...). */
export interface PortalSession {
  sessionToken: string;
  /** Unix milliseconds: the portal ends the session then (sign in again). */
  expiresAt: number;
  portalUserId: string;
}

declare module "next-auth" {
  interface User {
    portal?: PortalSession;
  }
  interface Session {
    portalUserId?: string;
    error?: "PortalSessionExpired";
  }
}
declare module "next-auth/jwt" {
  interface JWT {
    portal?: PortalSession;
  }
}

/** The organization's client. Its API key is for servers only: this module is never sent to a browser. */
function organizationClient(): PortalClient {
  const apiKey = process.env.PORTAL_API_KEY;
  if (!apiKey) throw new Error("PORTAL_API_KEY is not set");
  return createPortalClient({ baseUrl, apiKey });
}

/** A client acting as the signed-in portal user (what they may see: their CRM contact, its invoices...). */
export function portalFor(token: JWT | null): PortalClient {
  if (!token?.portal) throw new Error("not signed in to the portal");
  return createPortalClient({ baseUrl, sessionToken: token.portal.sessionToken });
}

export const authOptions: NextAuthOptions = {
  providers: [
    GoogleProvider({ clientId: process.env.GOOGLE_CLIENT_ID ?? "", clientSecret: process.env.GOOGLE_CLIENT_SECRET ?? "" }),
  ],
  session: { strategy: "jwt" },
  callbacks: {
    async signIn({ user, account }) {
      if (!account || !user.email) return false;
      try {
        const signedIn = await ok(
          organizationClient().POST("/api/v1/auth/sync-user", {
            body: {
              email: user.email,
              name: user.name ?? user.email,
              oauthProvider: account.provider, // "google" or "microsoft" (azure-ad: map it to "microsoft")
              oauthId: account.providerAccountId,
            },
          }),
        );
        // NextAuth hands this same user object to the jwt callback of this sign-in.
        user.portal = { sessionToken: signedIn.sessionToken, expiresAt: signedIn.expiresAt, portalUserId: signedIn._id };
        return true;
      } catch (error) {
        // 403: the portal user is disabled; 409: the email is bound to another login. Both refuse the sign-in.
        if (error instanceof PortalApiError && (error.status === 403 || error.status === 409)) return false;
        throw error; // 429 or 503: NextAuth shows its error page; the user may try again
      }
    },
    async jwt({ token, user }) {
      if (user?.portal) token.portal = user.portal; // only at sign-in; later calls keep what the token holds
      return token;
    },
    async session({ session, token }) {
      // The session token stays in the JWT: this object is readable by the browser (useSession).
      if (token.portal) {
        session.portalUserId = token.portal.portalUserId;
        if (token.portal.expiresAt <= Date.now()) session.error = "PortalSessionExpired";
      }
      return session;
    },
  },
  events: {
    async signOut({ token }) {
      // Ends the portal session too: the token stops working at once, not when it expires.
      if (!token?.portal) return;
      try {
        await portalFor(token).POST("/api/v1/auth/logout", { body: {} });
      } catch (error) {
        if (!(error instanceof PortalApiError && error.status === 401)) throw error; // 401: already ended
      }
    },
  },
};

type TokenRequest = Parameters<typeof getToken>[0]["req"];

/** The signed-in portal user, read with their own session token (a Route Handler or Server Action). */
export async function currentUser(req: TokenRequest): Promise<Schemas["CurrentUser"]> {
  return ok(portalFor(await getToken({ req })).GET("/api/v1/auth/user"));
}

/** GET /api/me of the app: 401 when signed out or when the portal ended the session. */
export async function currentUserResponse(req: TokenRequest): Promise<Response> {
  try {
    return Response.json(await currentUser(req));
  } catch (error) {
    if (error instanceof PortalApiError) return Response.json({ error: error.message }, { status: error.status });
    return Response.json({ error: "not signed in" }, { status: 401 });
  }
}
