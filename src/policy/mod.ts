/**
 * Rules: claims → credential profiles.
 *
 * @module
 */
export { createPolicy } from "./policy.ts";
