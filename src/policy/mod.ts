/**
 * Rules: claims → credential profiles, and which granted profile serves a request.
 *
 * @module
 */
export { createPolicy } from "./policy.ts";
export {
  chooseProxyProfile,
  createProfileChoice,
  mayReachBrowser,
  type ProfileChoice,
} from "./profile_choice.ts";
