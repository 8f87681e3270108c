import { defineConfig } from 'vitest/config';
import { sharedTest, useLavapipeForWebgpuTests } from '../../vitest.shared';

useLavapipeForWebgpuTests();

export default defineConfig({ test: sharedTest });
